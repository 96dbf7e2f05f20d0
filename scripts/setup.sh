#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine (root, registries only):
# installs the Debian packages keel drives when they are absent, then npm ci and the build.
# Run by `npm run demo` and `npm test` (with --test: also the test dependencies); safe to run again.
#   --test   also install what the tests need: the reference tools Patroni 3.0.2 and pgBackRest 2.45
#            (compatibility tests and side-by-side benchmarks), nftables (partition tests) and
#            chromium (the status page's browser test)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian package -> a file that proves it is installed.
declare -A wanted=(
  [postgresql-15]=/usr/lib/postgresql/15/bin/postgres
  [postgresql-client-15]=/usr/lib/postgresql/15/bin/psql
  [etcd-server]=/usr/bin/etcd
  [etcd-client]=/usr/bin/etcdctl
  [haproxy]=/usr/sbin/haproxy
  [iproute2]=/usr/sbin/ip
  [util-linux]=/usr/bin/setpriv
  # the Galera agent: MariaDB 10.11 with the Galera 4 provider, rsync (the default SST method) and mariadb-backup (sst_method: mariabackup)
  [mariadb-server]=/usr/sbin/mariadbd
  [galera-4]=/usr/lib/galera/libgalera_smm.so
  [rsync]=/usr/bin/rsync
  [mariadb-backup]=/usr/bin/mariadb-backup
  # keel-fence, the fence that holds when the agent is frozen, is a small C program built with keel
  [gcc]=/usr/bin/gcc
  [libc6-dev]=/usr/include/stdio.h
  [linux-libc-dev]=/usr/include/linux/watchdog.h
)
if [ "${1:-}" = "--test" ]; then
  wanted[patroni]=/usr/bin/patronictl
  # patronictl over https: python-etcd injects pyOpenSSL into urllib3, which imports idna (no package depends on it)
  wanted[python3-idna]=/usr/lib/python3/dist-packages/idna/__init__.py
  wanted[pgbackrest]=/usr/bin/pgbackrest
  # the seed's pgBackRest command lines run as written (sudo -u postgres keel pgbackrest ...)
  wanted[sudo]=/usr/bin/sudo
  wanted[nftables]=/usr/sbin/nft
  # keel-fence's test steps the wall clock under libfaketime
  wanted[faketime]=/usr/bin/faketime
  # the systemd-unit test checks the unit with systemd-analyze verify
  wanted[systemd]=/usr/bin/systemd-analyze
  # the status page (GET /ui) is tested in a real browser: Debian's chromium, driven by playwright-core,
  # with a font for its text (installed without recommends, chromium brings none)
  wanted[chromium]=/usr/bin/chromium
  wanted[fonts-dejavu-core]=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
fi
missing=()
for pkg in "${!wanted[@]}"; do
  [ -e "${wanted[$pkg]}" ] || missing+=("$pkg")
done
for extra in ${KEEL_EXTRA_PACKAGES:-}; do
  dpkg -s "$extra" >/dev/null 2>&1 || missing+=("$extra")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian's postgresql package creates and starts a 'main' cluster on 5432; keel never uses it.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian etcd package starts a system etcd on 2379; keel runs its own on free ports,
# so the system one is left alone (it does not disturb loopback tests on other ports).
# Likewise the Debian mariadb-server package may start a system MariaDB on 3306 (where systemd
# runs); keel's Galera nodes use their own ports and data directories, so it is left alone.

if ! id mysql >/dev/null 2>&1; then
  echo "setup: the mysql OS user is missing (mariadb-server should have created it)" >&2
  exit 1
fi
if ! id postgres >/dev/null 2>&1; then
  echo "setup: the postgres OS user is missing (postgresql-15 should have created it)" >&2
  exit 1
fi

# npm ci only when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: building"
rm -rf dist
npx tsc -p tsconfig.json
node scripts/build-native.mjs
