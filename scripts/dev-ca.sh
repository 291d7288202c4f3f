#!/usr/bin/env bash
# Development certificates and broker logins for Takt's secure profile (docs/security.md).
#
#   scripts/dev-ca.sh DIR [DEVICE_USER...]       (default device users: demo bishan)
#
# Writes into DIR (created 0700), keeping whatever is already there and still valid, so running
# it again changes nothing:
#   ca.crt, ca.key            a certificate authority (EC P-256, 10 years); ca.key never leaves DIR
#   server.crt, server.key    the broker's certificate: CN localhost, SAN localhost, 127.0.0.1, ::1,
#                             mosquitto (the compose service) and DEV_CA_HOSTS (comma-separated,
#                             e.g. DEV_CA_HOSTS=broker.plant,10.0.0.5)
#   USER.crt, USER.key        a client certificate (CN = USER) for taktd and each device user, for
#                             brokers that also require certificates (require_certificate true)
#   USER.password             a random password for taktd and each device user
#   passwd                    the Mosquitto password file with those users (mosquitto_passwd)
#   taktd.yaml                taktd's login (username, password, tls_ca_file) for a run on this
#                             machine: taktd --config DIR/taktd.yaml --broker mqtts://localhost:8883 …
#   taktd-compose.yaml        the same for docker-compose.yml (CA at /run/takt/ca.crt), with the
#                             compose PostgreSQL store (store: postgres://takt:…@postgres:5432/takt)
#   postgres.password         the password of that store's user takt (PostgreSQL and Grafana read it)
#
# A device user is named after its site (Config/mosquitto-acl lets user bishan publish under
# takt/v1/bishan/# only); metrics, deadletter, status, alerts and taktd are refused as device users.
#
# Permissions: DIR is 0700, which keeps other users of this machine out. The files in it are
# 0644 (ca.key 0600) so that the containers' own users (mosquitto, takt) can read the single
# files docker-compose.yml mounts. For production use your own CA and keep each key readable by
# its one user only.
#
# The password file by hand (what this script does when mosquitto_passwd is installed):
#   mosquitto_passwd -c -b DIR/passwd taktd "$(cat DIR/taktd.password)"     # -c creates the file
#   mosquitto_passwd -b DIR/passwd bishan "$(cat DIR/bishan.password)"      # each further user
# (-b puts the password on the command line; without -b, mosquitto_passwd asks for it.)
set -euo pipefail

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 2
fi
dir=$1
shift
devices=("$@")
[ ${#devices[@]} -gt 0 ] || devices=(demo bishan)
for user in "${devices[@]}"; do
  if ! [[ $user =~ ^[A-Za-z0-9_-]{1,64}$ ]]; then
    echo "dev-ca: '$user' is not a site id (1-64 of A-Z a-z 0-9 _ -)" >&2
    exit 2
  fi
  case $user in
    metrics | deadletter | status | alerts | taktd)
      echo "dev-ca: '$user' cannot be a device user: it could publish the daemon's own topics" >&2
      exit 2
      ;;
  esac
done
users=(taktd "${devices[@]}")
command -v openssl >/dev/null || { echo "dev-ca: openssl is missing (apt-get install openssl)" >&2; exit 1; }

umask 077
mkdir -p "$dir"
chmod 700 "$dir"
dir=$(cd "$dir" && pwd)
cd "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { printf 'dev-ca: %-5s %s\n' "$1" "$dir/$2"; }

# One openssl configuration for every request: the extensions of each kind of certificate.
sans="DNS:localhost,IP:127.0.0.1,IP:::1,DNS:mosquitto"
IFS=',' read -r -a extra <<<"${DEV_CA_HOSTS:-}"
for host in "${extra[@]}"; do
  [ -n "$host" ] || continue
  if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then sans+=",IP:$host"; else sans+=",DNS:$host"; fi
done
cat >"$work/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $sans
[client]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
EOF

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# The CA. A new CA re-issues every certificate below (they no longer verify).
if [ -s ca.key ] && [ -s ca.crt ]; then
  say kept ca.crt
else
  newkey ca.key
  openssl req -new -x509 -key ca.key -days 3650 -subj "/CN=Takt development CA" \
    -config "$work/openssl.cnf" -extensions ca -out ca.crt
  say wrote ca.crt
  say wrote ca.key
fi

# issue NAME CN EXTENSIONS: NAME.key and NAME.crt signed by the CA, unless they already verify.
issue() {
  local name=$1 cn=$2 extensions=$3
  if [ -s "$name.key" ] && [ -s "$name.crt" ] && openssl verify -CAfile ca.crt "$name.crt" >/dev/null 2>&1; then
    say kept "$name.crt"
    return
  fi
  newkey "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=$cn" -config "$work/openssl.cnf" -out "$work/$name.csr"
  openssl x509 -req -in "$work/$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
    -extfile "$work/openssl.cnf" -extensions "$extensions" -out "$name.crt" 2>/dev/null
  say wrote "$name.crt"
  say wrote "$name.key"
}
issue server localhost server
for user in "${users[@]}"; do issue "$user" "$user" client; done

# Passwords, and the Mosquitto password file.
passwd_tool=$(command -v mosquitto_passwd || true)
passwd_written=0
for user in "${users[@]}"; do
  fresh=0
  if [ -s "$user.password" ]; then
    say kept "$user.password"
  else
    openssl rand -hex 16 >"$user.password"
    say wrote "$user.password"
    fresh=1
  fi
  if [ -n "$passwd_tool" ]; then
    if [ ! -s passwd ]; then
      "$passwd_tool" -c -b passwd "$user" "$(cat "$user.password")"
      say wrote "passwd ($user)"
      passwd_written=1
    elif [ $fresh = 1 ] || ! grep -q "^$user:" passwd; then
      "$passwd_tool" -b passwd "$user" "$(cat "$user.password")"
      say wrote "passwd ($user)"
      passwd_written=1
    fi
  fi
done
if [ -z "$passwd_tool" ]; then
  echo "dev-ca: mosquitto_passwd is not installed (apt-get install mosquitto); make $dir/passwd with:" >&2
  first=-c
  for user in "${users[@]}"; do
    echo "  mosquitto_passwd $first -b $dir/passwd $user \"\$(cat $dir/$user.password)\"" >&2
    first=""
  done
elif [ $passwd_written = 0 ]; then
  say kept passwd
fi

# The compose PostgreSQL store's password (docker-compose.yml: postgres, taktd, grafana).
if [ -s postgres.password ]; then say kept postgres.password; else openssl rand -hex 16 >postgres.password; say wrote postgres.password; fi

# taktd's login, for a run here and for docker-compose.yml. Rewritten only when it changes.
login() {
  local name=$1 ca=$2 store=${3:-}
  {
    echo "# taktd's login for the secure profile, written by scripts/dev-ca.sh (docs/security.md)."
    echo "username: taktd"
    echo "password: \"$(cat taktd.password)\""
    echo "tls_ca_file: \"$ca\""
    [ -z "$store" ] || echo "store: \"$store\""
  } >"$work/$name"
  if cmp -s "$work/$name" "$name"; then
    say kept "$name"
  else
    mv "$work/$name" "$name"
    say wrote "$name"
  fi
}
login taktd.yaml "$dir/ca.crt"
login taktd-compose.yaml /run/takt/ca.crt "postgres://takt:$(cat postgres.password)@postgres:5432/takt"

rm -f ca.srl
chmod 600 ca.key
find . -maxdepth 1 -type f ! -name ca.key -exec chmod 644 {} +
echo "dev-ca: device users (publish under takt/v1/{user}/#): ${devices[*]}; the daemon's user: taktd"
