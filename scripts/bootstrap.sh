#!/usr/bin/env bash
# bootstrap.sh installs the system packages the build and the tests need
# (cgo libraries for HDF5 and OpenBLAS, a C toolchain, pkg-config), and
# only those that are missing, so running it again is a no-op. Debian or
# Ubuntu; run as root, or with sudo available.
set -euo pipefail

packages=(libhdf5-dev libopenblas-dev pkg-config gcc libc6-dev)

missing=()
for pkg in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$pkg")
	fi
done

if ((${#missing[@]} > 0)); then
	if ! command -v apt-get >/dev/null; then
		echo "bootstrap: missing ${missing[*]}, and apt-get is not available; install them by hand" >&2
		exit 1
	fi
	sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		sudo=(sudo)
	fi
	echo "bootstrap: installing ${missing[*]}" >&2
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v go >/dev/null; then
	echo "bootstrap: Go is not on PATH; install Go $(sed -n 's/^go //p' "$(dirname "$0")/../go.mod") or newer" >&2
	exit 1
fi

# The viz's browser tests (viz/browser_test.go) drive Debian's chromium
# headless. Install it when missing; where it cannot be installed the
# tests skip and say why, so this only warns.
if ! command -v chromium >/dev/null && [[ ! -x /usr/bin/chromium ]]; then
	if command -v apt-get >/dev/null; then
		sudo=()
		if [[ $(id -u) -ne 0 ]]; then
			sudo=(sudo)
		fi
		echo "bootstrap: installing chromium (for the viz browser tests)" >&2
		if ! { "${sudo[@]}" apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium; }; then
			echo "bootstrap: could not install chromium; the viz browser tests will be skipped" >&2
		fi
	else
		echo "bootstrap: chromium is missing and apt-get is not available; the viz browser tests will be skipped" >&2
	fi
fi
