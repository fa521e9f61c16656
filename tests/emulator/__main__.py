"""python -m tests.emulator serve --state-dir DIR [--port N] [--scenario FILE]"""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.emulator")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the emulator in the foreground")
    serve.add_argument("--state-dir", required=True)
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--scenario")
    args = parser.parse_args(argv)
    from .server import Emulator
    emu = Emulator(args.state_dir, args.port, args.scenario)
    print(f"ready {emu.control_url}", flush=True)
    try:
        emu.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
