#!/usr/bin/env bash
# Local ClickHouse for `make test` and `make run`.
#
#   deploy/local/clickhouse.sh start   install clickhouse-server if missing, start a private
#                                      instance under $SYNC_DATA_DIR/clickhouse unless something
#                                      already answers on $CLICKHOUSE_ADDR, wait until it answers;
#                                      prints "started" or "reused" on stdout, so a caller stops
#                                      only what it started
#   deploy/local/clickhouse.sh stop    stop the instance this script started (by its pid file)
#
# The instance keeps its own config and data directory, so it never touches a system
# ClickHouse. Only the native protocol is opened: clickhouse-go's HTTP transport does not
# work against Debian's 18.16 server (see README, "ClickHouse").
set -euo pipefail

addr="${CLICKHOUSE_ADDR:-127.0.0.1:9000}"
host="${addr%:*}"
port="${addr##*:}"
data_dir="$(realpath -m "${SYNC_DATA_DIR:-./.data}")/clickhouse"
pid_file="$data_dir/clickhouse.pid"

log() { printf 'clickhouse.sh: %s\n' "$*" >&2; }

answers() {
  clickhouse-client --host "$host" --port "$port" --query 'SELECT 1' >/dev/null 2>&1
}

install_if_missing() {
  if command -v clickhouse-server >/dev/null 2>&1 && command -v clickhouse-client >/dev/null 2>&1; then
    return
  fi
  log "installing Debian's clickhouse-server and clickhouse-client"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { log "not root and no sudo: install clickhouse-server and clickhouse-client yourself"; exit 1; }
    sudo="sudo"
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # policy-rc.d keeps the package from starting the system-wide server: we run our own.
  $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
}

write_config() {
  mkdir -p "$data_dir"/{data,tmp,user_files,format_schemas,log}
  cat >"$data_dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$data_dir/log/server.log</log>
        <errorlog>$data_dir/log/server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>$host</listen_host>
    <tcp_port>$port</tcp_port>
    <path>$data_dir/data/</path>
    <tmp_path>$data_dir/tmp/</tmp_path>
    <user_files_path>$data_dir/user_files/</user_files_path>
    <format_schema_path>$data_dir/format_schemas/</format_schema_path>
    <users_config>$data_dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>536870912</mark_cache_size>
    <timezone>UTC</timezone>
</yandex>
XML
  cat >"$data_dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
}

start() {
  if answers 2>/dev/null; then
    log "a ClickHouse server already answers on $addr; using it"
    echo reused
    return
  fi
  install_if_missing >&2  # apt output must not mix with the answer on stdout
  if answers; then
    log "a ClickHouse server already answers on $addr; using it"
    echo reused
    return
  fi
  write_config
  log "starting a private ClickHouse on $addr (data in $data_dir)"
  # clickhouse-server refuses to run as root only when the data dir owner differs; we own it.
  nohup clickhouse-server --config-file="$data_dir/config.xml" >"$data_dir/log/stdout.log" 2>&1 &
  echo $! >"$pid_file"
  for _ in $(seq 1 120); do
    if answers; then
      log "ClickHouse answers on $addr"
      echo started
      return
    fi
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
      log "clickhouse-server exited; last lines of its logs:"
      tail -n 20 "$data_dir/log/stdout.log" "$data_dir/log/server.err.log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  log "ClickHouse did not answer on $addr within 60 s"
  exit 1
}

stop() {
  [ -f "$pid_file" ] || return 0
  local pid
  pid="$(cat "$pid_file")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping the ClickHouse this script started (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
