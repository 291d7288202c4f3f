# Shell helpers shared by the demo and benchmark scripts (sourced, not run).

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Writes DIR/mosquitto.conf: Config/mosquitto.conf plus a loopback listener on PORT and the
# persistence folder DIR (as root: Mosquitto would drop to a user that cannot write there).
write_mosquitto_conf() {  # DIR PORT
  {
    cat Config/mosquitto.conf
    echo "listener $2 127.0.0.1"
    echo "persistence_location $1/"
    [ "$(id -u)" -eq 0 ] && echo "user root"
  } > "$1/mosquitto.conf"
}

# Waits until something listens on 127.0.0.1:PORT (≤ 5 s); fails otherwise.
wait_port() {  # PORT
  for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# The newest PostgreSQL server binaries Debian installed.
postgres_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

# Runs a command as the postgres user when we are root (initdb refuses root).
as_postgres() { if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi; }

# A PostgreSQL cluster of our own in DIR/data on 127.0.0.1:PORT, superuser takt, trust
# authentication (loopback only); stop it with stop_postgres DIR.
start_postgres() {  # DIR PORT
  local bin
  bin=$(postgres_bin)
  mkdir -p "$1"
  [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$1"
  as_postgres "$bin/initdb" -D "$1/data" -U takt --auth=trust -E UTF8 > "$1/initdb.log"
  as_postgres "$bin/pg_ctl" -D "$1/data" -l "$1/log" -o "-p $2 -k $1 -c listen_addresses=127.0.0.1" -w start > /dev/null
}
stop_postgres() {  # DIR
  as_postgres "$(postgres_bin)/pg_ctl" -D "$1/data" -m fast stop > /dev/null 2>&1 || true
}
