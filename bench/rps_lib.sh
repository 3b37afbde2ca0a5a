# Shared by bench/passport_rps.sh and bench/static_rps.sh (sourced, not run): installing
# nginx and wrk, starting servers as process groups, stopping them, and nginx's common
# configuration. The caller sets WORK (a temporary folder, removed at exit).

install_tools() {
    if command -v nginx >/dev/null && command -v wrk >/dev/null; then
        return
    fi
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    echo "installing nginx and wrk from Debian" >&2
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk \
        || "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk
}

PGIDS=()
cleanup() {
    local g
    for g in "${PGIDS[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
    sleep 1
    for g in "${PGIDS[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
# start NAME CMD...: run CMD as the leader of a new process group (so the group, workers
# included, can be stopped and its CPU time counted); sets LAST_PGID.
start() {
    local name=$1
    shift
    setsid "$@" >"$WORK/$name.log" 2>&1 </dev/null &
    local pid=$!
    PGIDS+=("$pid")
    sleep 0.1
    local pgid
    pgid=$(ps -o pgid= -p "$pid" | tr -d ' ')
    if [ "$pgid" != "$pid" ]; then
        echo "process group of $name is $pgid, expected $pid" >&2
        exit 1
    fi
    LAST_PGID=$pid
}


# nginx_conf DIR WORKERS: the top of an nginx.conf running in the foreground from DIR, with
# every temporary path inside it; the caller appends its server blocks and the closing "}".
nginx_conf() {
    local dir=$1 workers=$2 t
    cat <<EOF
worker_processes $workers;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
EOF
    for t in client_body proxy fastcgi uwsgi scgi; do echo "    ${t}_temp_path $dir/tmp-$t;"; done
}
