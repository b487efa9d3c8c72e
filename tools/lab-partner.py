#!/usr/bin/env python3
"""A lab SIEM for `make run`: a syslog-over-TLS receiver (RFC 5425 octet counting, or
one message per line) on the shipped config's `local-siem` address, so the gateway and
`alertgate send-test local-siem` deliver end to end on a machine without a SIEM.

Each message is appended to LOG, one per line. Several connections at once (the
gateway's links and send-test's own connection). It checks no client certificate: the
shipped config's appliance certificates are self-signed lab certificates.

usage: lab-partner.py HOST:PORT CERT KEY LOG
"""
import socket
import ssl
import sys
import threading


def frames(stream):
    """Yields the messages of one connection: octet-counted, or LF-terminated."""
    buffer = b""
    while True:
        chunk = stream.recv(65536)
        if not chunk:
            if buffer.strip():
                yield buffer.rstrip(b"\r\n")
            return
        buffer += chunk
        while buffer:
            if buffer[:1].isdigit():
                space = buffer.find(b" ")
                if space < 0 or not buffer[:space].isdigit():
                    break
                length = int(buffer[:space])
                if len(buffer) < space + 1 + length:
                    break
                yield buffer[space + 1:space + 1 + length]
                buffer = buffer[space + 1 + length:]
            else:
                newline = buffer.find(b"\n")
                if newline < 0:
                    break
                yield buffer[:newline].rstrip(b"\r")
                buffer = buffer[newline + 1:]


def serve(connection, address, context, log, lock):
    try:
        stream = context.wrap_socket(connection, server_side=True)
    except (ssl.SSLError, OSError) as error:
        print(f"lab-partner: TLS handshake with {address[0]}:{address[1]} failed: {error}", flush=True)
        connection.close()
        return
    print(f"lab-partner: connection from {address[0]}:{address[1]}", flush=True)
    try:
        for message in frames(stream):
            with lock:
                log.write(message.decode("utf-8", "replace") + "\n")
                log.flush()
    except (ssl.SSLError, OSError):
        pass
    finally:
        stream.close()


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    host, port = sys.argv[1].rsplit(":", 1)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[2], sys.argv[3])
    context.verify_mode = ssl.CERT_NONE
    log = open(sys.argv[4], "a", encoding="utf-8")
    lock = threading.Lock()
    listener = socket.create_server((host, int(port)), reuse_port=False)
    print(f"lab-partner: syslog over TLS on {host}:{port}, messages to {sys.argv[4]}", flush=True)
    while True:
        connection, address = listener.accept()
        threading.Thread(target=serve, args=(connection, address, context, log, lock), daemon=True).start()


if __name__ == "__main__":
    main()
