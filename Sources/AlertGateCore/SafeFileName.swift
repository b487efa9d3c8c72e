/// Names that become file names (a store certificate's `NAME.crt`, `cert self-signed
/// --cn`'s files): letters, digits, `.`, `-` and `_`, not starting with `.`, at most 128
/// characters. Such a name can neither leave its folder (`../x`, `/etc/x`) nor hide a file.
public enum SafeFileName {
    public static let maximumLength = 128

    public static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= maximumLength, !name.hasPrefix(".") else { return false }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "_")
        }
    }

    /// What a valid name looks like, for messages.
    public static let rule = "letters, digits, '.', '-' and '_', not starting with '.', at most 128 characters"
}
