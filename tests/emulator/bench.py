"""Measure emulator start-up time and WhoAmI throughput over one keep-alive connection.

    .venv/bin/python -m tests.emulator.bench [--seconds 5] [--threads 1]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    state_dir = tempfile.mkdtemp(prefix="emulator-bench-")
    env = {k: v for k, v in os.environ.items() if k != "CURL_CA_BUNDLE"}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "tests.emulator", "serve", "--state-dir", state_dir],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        startup = time.monotonic() - started
        assert line.startswith("ready"), line
        ep = json.load(open(os.path.join(state_dir, "endpoints.json")))
        os.environ["REQUESTS_CA_BUNDLE"] = ep["ca_bundle"]
        os.environ.pop("CURL_CA_BUNDLE", None)
        token = requests.post(f"{ep['authority_host']}/{ep['tenant_id']}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", "client_id": ep["client_id"], "client_secret": ep["client_secret"],
            "scope": ep["environments"][0] + "/.default"}).json()["access_token"]
        url = ep["environments"][0] + "/api/data/v9.2/WhoAmI()"
        counts = []

        def worker():
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {token}"
            n, end = 0, time.monotonic() + args.seconds
            while time.monotonic() < end:
                assert s.get(url).status_code == 200
                n += 1
            counts.append(n)
        threads = [threading.Thread(target=worker) for dummy in range(args.threads)]
        t0 = time.monotonic()
        [t.start() for t in threads]
        [t.join() for t in threads]
        elapsed = time.monotonic() - t0
        print(f"start-up to ready: {startup:.2f} s")
        print(f"WhoAmI keep-alive, {args.threads} client thread(s): {sum(counts) / elapsed:.0f} req/s "
              f"({sum(counts)} requests in {elapsed:.1f} s)")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
