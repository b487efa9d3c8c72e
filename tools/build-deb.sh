#!/usr/bin/env bash
# `make deb`: alertgate_VERSION_ARCH.deb from the release build, with dpkg-deb. The files it
# holds come from packaging/ (unit, production config.yaml, maintainer scripts), the man
# pages from swift-argument-parser's generate-manual plugin, the completions from the
# binary itself. Output: .build-deb/alertgate_VERSION_ARCH.deb (the path is printed).
set -euo pipefail
cd "$(dirname "$0")/.."

binary=.build/release/alertgate
out=.build-deb
[ -x "$binary" ] || { echo "build-deb: $binary is missing: run make release first" >&2; exit 1; }
version=$("$binary" --version)
# Dates in the package (man pages, changelog) are the last commit's, so a rebuild is identical.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
arch=$(dpkg --print-architecture)
root=$out/root
rm -rf "$root"
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/etc/alertgate" "$root/usr/lib/systemd/system" \
  "$root/usr/share/man/man1" "$root/usr/share/doc/alertgate" \
  "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d"

# The program, without its debug symbols (the Swift runtime is linked in statically).
install -m 0755 "$binary" "$root/usr/bin/alertgate"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/alertgate"

install -m 0644 packaging/config.yaml "$root/etc/alertgate/config.yaml"
install -m 0644 packaging/alertgate.service "$root/usr/lib/systemd/system/alertgate.service"

# Man pages, one per command and subcommand (alertgate.cert.check.1 → alertgate-cert-check.1,
# as git names its pages), from the packaged program's own help by swift-argument-parser's
# generate-manual (the tool its plugin runs; run directly, it leaves the release build as it is).
swift build --product generate-manual >/dev/null
manuals=$out/manuals
rm -rf "$manuals"
mkdir -p "$manuals"
.build/debug/generate-manual "$root/usr/bin/alertgate" --multi-page --date "$(date -u -d @"$epoch" +%F)" --output-directory "$manuals"
for page in "$manuals"/*.1; do
  name=$(basename "$page" .1 | tr . -)
  # NAME must be the page's own name for whatis/apropos: `alertgate-cert-check`, while the
  # synopsis keeps the command as it is typed (`alertgate cert check`).
  command=$(sed -n 's/^\.Nm "\(.*\)"$/\1/p' "$page" | head -1)
  sed -e "/^\.Dt /{s/\./-/g;s/^-Dt/.Dt/}" \
      -e "0,/^\.Nm .*/s//.Nm $name/" \
      ${command:+-e "s/^\.Nm\$/.Nm \"$command\"/"} \
      -e "/^\.Xr alertgate\./{s/\./-/g;s/^-Xr/.Xr/}" "$page" |
    gzip -9n > "$root/usr/share/man/man1/$name.1.gz"
  chmod 0644 "$root/usr/share/man/man1/$name.1.gz"
done

# bash-completion sources the file: no #! line.
"$binary" --generate-completion-script bash | sed '1{/^#!/d}' > "$root/usr/share/bash-completion/completions/alertgate"
"$binary" --generate-completion-script zsh > "$root/usr/share/zsh/vendor-completions/_alertgate"
"$binary" --generate-completion-script fish > "$root/usr/share/fish/vendor_completions.d/alertgate.fish"
chmod 0644 "$root"/usr/share/*/completions/alertgate "$root"/usr/share/zsh/vendor-completions/_alertgate "$root"/usr/share/fish/vendor_completions.d/alertgate.fish

install -m 0644 packaging/debian/copyright "$root/usr/share/doc/alertgate/copyright"
install -D -m 0644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/alertgate"
for doc in README.md docs/*.md; do install -m 0644 "$doc" "$root/usr/share/doc/alertgate/$(basename "$doc")"; done
gzip -9n "$root"/usr/share/doc/alertgate/*.md
mkdir -p "$root/usr/share/doc/alertgate/contrib"
cp -r contrib/. "$root/usr/share/doc/alertgate/contrib/"
find "$root/usr/share/doc/alertgate/contrib" -type f -exec chmod 0644 {} +
find "$root/usr/share/doc/alertgate/contrib" -type d -exec chmod 0755 {} +
{
  echo "alertgate ($version) unstable; urgency=medium"
  echo
  echo "  * Built from $(git rev-parse --short HEAD 2>/dev/null || echo 'a source tree')."
  echo
  echo " -- alertgate maintainers <alertgate@example.com>  $(date -R -u -d @"$epoch")"
} | gzip -9n > "$root/usr/share/doc/alertgate/changelog.gz"
chmod 0644 "$root/usr/share/doc/alertgate/changelog.gz"

# Depends: the packages of the shared libraries the binary needs (libssl3, libnghttp2-14,
# libc6 and the C++ runtime), each at least at the version it was built against.
depends=$(objdump -p "$root/usr/bin/alertgate" | awk '/NEEDED/ { print $2 }' | while read -r library; do
  path=$(ldconfig -p | awk -v lib="$library" '$1 == lib && /x86-64|aarch64/ { print $NF; exit }')
  [ -n "$path" ] || continue
  # dpkg knows a library by the path its package installed (/lib or /usr/lib, merged-usr).
  package=$( { dpkg -S "$path" || dpkg -S "$(readlink -f "$path")" || dpkg -S "/usr$path"; } 2>/dev/null | head -1 | cut -d: -f1)
  if [ -n "$package" ]; then
    echo "$package (>= $(dpkg-query -W -f='${Version}' "$package" | sed 's/-[^-]*$//'))"
  fi
done | sort -u | paste -sd, | sed 's/,/, /g')

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
  packaging/debian/control.in > "$root/DEBIAN/control"
install -m 0644 packaging/debian/conffiles "$root/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
( cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum ) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

package=$out/alertgate_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$package" >/dev/null
echo "$package"
