#!/usr/bin/env bash
# Create bench/.venv-peers: the peers the benchmarks compare against, kept out of crossbook's own
# dependencies. bench/decode.py runs bench/peers/*.py inside this venv as a subprocess.
#
#   bash bench/setup_peers.sh            # uses python3.11 if present, else python3
#   PYTHON=/path/to/python bash bench/setup_peers.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-peers"
py="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
# cryptofeed 2.4.1 is the peer named in the decode benchmark (bench/decode.py).
"$venv/bin/python" -m pip install --quiet 'cryptofeed==2.4.1'
"$venv/bin/python" -c 'import cryptofeed, sys; from importlib.metadata import version; print("peer venv ready:", sys.executable, "cryptofeed", version("cryptofeed"))'
