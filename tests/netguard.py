"""Run a module with every outbound connection recorded and refused, loopback excepted.

Usage: python tests/netguard.py LOGFILE -m module [args...]. Each attempt is appended to LOGFILE as a line.
An audit hook sees every socket.connect made from Python, whichever library makes it.
"""

import ipaddress
import runpy
import sys


def _is_local(address) -> bool:
    if not isinstance(address, tuple):
        return True  # a Unix socket
    host = str(address[0])
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main() -> None:
    log, flag, module, *rest = sys.argv[1:]
    assert flag == "-m"

    def hook(event, args):
        if event == "socket.connect" and not _is_local(args[1]):
            with open(log, "a") as out:
                out.write(f"{args[1]!r}\n")
            raise ConnectionRefusedError(f"network access attempted: {args[1]!r}")
        if event == "socket.getaddrinfo" and args[0] not in ("localhost", "127.0.0.1", "::1", None):
            with open(log, "a") as out:
                out.write(f"lookup {args[0]!r}\n")

    sys.addaudithook(hook)
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
