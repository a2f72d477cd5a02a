#!/bin/bash
# plugin.sh - upgrade-harness devstack plugin.
#
# Puts HAProxy (admin socket, X-Backend-Server header) in front of nova-api on every
# API node, optionally keepalived holding a VIP, and installs the harness on the node
# that runs it. Services (enable them in local.conf):
#   uh-haproxy      HAProxy as devstack@uh-haproxy, on every API node
#   uh-keepalived   keepalived as devstack@uh-keepalived, when UPGRADE_HARNESS_VIP is set
#   upgrade-harness the harness in its own venv (the controller)
# The runtime HAProxy the harness drives is the one in harness/backends/embedded/infra/haproxy.py; the
# config below is its multinode twin and must keep the same server names and header.
# shellcheck shell=bash
# The UPGRADE_HARNESS_* variables come from settings, devstack's from stackrc.
# shellcheck disable=SC2153

function install_upgrade_harness_packages {
    # socat: the harness's devstack backend talks to the admin socket over SSH with it
    install_package haproxy socat
    if is_service_enabled uh-keepalived; then
        install_package keepalived
    fi
    # The distribution's units would fight ours for the ports and the VIP.
    local unit
    for unit in haproxy keepalived; do
        sudo systemctl disable --now "$unit" 2>/dev/null || true
    done
}

function install_upgrade_harness {
    if is_ubuntu; then
        install_package python3-venv
    fi
    python3 -m venv "$UPGRADE_HARNESS_VENV"
    "$UPGRADE_HARNESS_VENV/bin/pip" install -q --upgrade pip
    "$UPGRADE_HARNESS_VENV/bin/pip" install -q "$UPGRADE_HARNESS_DIR"
}

function install_upgrade_harness_uv {
    # Every node the harness upgrades: it installs each release into a venv of its own
    # beside devstack's with uv (harness/backends/devstack/units.py Layout.uv).
    python3 -m venv "$UPGRADE_HARNESS_UV_VENV"
    "$UPGRADE_HARNESS_UV_VENV/bin/pip" install -q uv
    sudo install -d -o "$STACK_USER" -m 755 "$UPGRADE_HARNESS_RELEASES"
}

function _uh_dirs {
    sudo install -d -o "$STACK_USER" -m 755 "$UPGRADE_HARNESS_CONF_DIR"
    sudo install -d -o "$STACK_USER" -m 700 "$UPGRADE_HARNESS_STATE_DIR"
}

function configure_uh_haproxy {
    _uh_dirs
    local cfg=$UPGRADE_HARNESS_CONF_DIR/haproxy.cfg
    local path=${UPGRADE_HARNESS_NOVA_PATH%/}
    {
        echo "global"
        # Mode 600 and owned by $STACK_USER: only the harness (as that user, or root)
        # may drain and re-admit servers.
        echo "    stats socket $UPGRADE_HARNESS_STATE_DIR/admin.sock mode 600 level admin"
        echo "    maxconn 4096"
        echo ""
        echo "defaults"
        echo "    mode http"
        echo "    option redispatch"
        echo "    retries 3"
        echo "    timeout connect 5s"
        echo "    timeout client 300s"
        echo "    timeout server 300s"
        echo "    timeout http-keep-alive 30s"
        # a busy API is not a dead one (harness/backends/embedded/infra/haproxy.py says why)
        echo "    timeout check 10s"
        echo ""
        echo "listen nova-api"
        # Every address, so the VIP works wherever keepalived puts it (no nonlocal bind).
        echo "    bind *:$UPGRADE_HARNESS_NOVA_PORT"
        echo "    balance roundrobin"
        echo "    option httpchk GET $path/"
        echo "    http-check expect rstatus ^[23]"
        echo "    http-response set-header $UPGRADE_HARNESS_SERVER_HEADER %s"
        local node
        for node in $UPGRADE_HARNESS_API_NODES; do
            echo "    server ${node%%=*} ${node#*=}:$UPGRADE_HARNESS_NOVA_BACKEND_PORT check inter 1s fall 2 rise 1"
        done
    } > "$cfg"
    haproxy -c -q -f "$cfg" || die $LINENO "HAProxy rejects $cfg"
}

function _uh_interface {
    # The interface holding HOST_IP, unless UPGRADE_HARNESS_VIP_INTERFACE says otherwise.
    if [[ -n "$UPGRADE_HARNESS_VIP_INTERFACE" ]]; then
        echo "$UPGRADE_HARNESS_VIP_INTERFACE"
        return
    fi
    ip -o -4 addr show | awk -v ip="$HOST_IP" '{split($4, a, "/")} a[1] == ip {print $2; exit}'
}

function configure_uh_keepalived {
    _uh_dirs
    [[ -n "$UPGRADE_HARNESS_VIP" ]] || die $LINENO "uh-keepalived needs UPGRADE_HARNESS_VIP"
    local iface
    iface=$(_uh_interface)
    [[ -n "$iface" ]] || die $LINENO "no interface holds HOST_IP $HOST_IP"
    local cfg=$UPGRADE_HARNESS_CONF_DIR/keepalived.conf
    # The health script: this node's HAProxy answers on its admin socket (as the embedded
    # backend's, harness/backends/embedded/infra/keepalived.py). keepalived runs scripts
    # only from paths no one but root can write, so not from the stack user's conf dir.
    local check=$UPGRADE_HARNESS_KEEPALIVED_CHECK
    sudo install -d -o root -g root -m 755 "$(dirname "$check")"
    printf '#!/bin/sh\necho "show info" | socat -t1 - UNIX-CONNECT:%s 2>/dev/null | grep -q "^Pid:"\n' \
        "$UPGRADE_HARNESS_STATE_DIR/admin.sock" | sudo tee "$check" >/dev/null
    sudo chmod 755 "$check"
    # End the connections a move of the VIP leaves with nowhere to go (as the embedded
    # backend's): entering MASTER, this node's own to the old holder; leaving it, those
    # it made from the VIP, once the address is gone.
    local notify
    notify=$(dirname "$check")/upgrade-harness-notify
    # shellcheck disable=SC2016  # $3 is the script's argument, written as it is
    printf '#!/bin/sh\nif [ "$3" = MASTER ]; then\n    exec ss -K -t -n state connected dst %s src %s\nfi\nip -o addr show dev %s to %s/32 | grep -q . && exit 0\nexec ss -K -t -n state connected src %s\n' \
        "$UPGRADE_HARNESS_VIP" "$HOST_IP" "$iface" "$UPGRADE_HARNESS_VIP" "$UPGRADE_HARNESS_VIP" | sudo tee "$notify" >/dev/null
    sudo chmod 755 "$notify"
    local node
    {
        echo "global_defs {"
        echo "    script_user root"
        echo "    enable_script_security"
        echo "}"
        echo "vrrp_script chk_haproxy {"
        echo "    script \"$check\""
        echo "    interval 1"
        echo "    timeout 1"
        echo "    fall 2"
        echo "    rise 1"
        echo "}"
        echo "vrrp_instance upgrade_harness {"
        # Every node starts BACKUP; the highest priority wins the election, and a node
        # that recovers does not take the VIP back (a second move, a second disruption).
        echo "    state BACKUP"
        echo "    nopreempt"
        echo "    interface $iface"
        echo "    virtual_router_id $UPGRADE_HARNESS_VRRP_ROUTER_ID"
        echo "    priority $UPGRADE_HARNESS_VRRP_PRIORITY"
        echo "    advert_int 1"
        # Unicast: cloud networks (the gate's included) often drop VRRP multicast.
        echo "    unicast_src_ip $HOST_IP"
        echo "    unicast_peer {"
        for node in $UPGRADE_HARNESS_API_NODES; do
            if [[ "${node#*=}" != "$HOST_IP" ]]; then
                echo "        ${node#*=}"
            fi
        done
        echo "    }"
        echo "    virtual_ipaddress {"
        echo "        $UPGRADE_HARNESS_VIP dev $iface"
        echo "    }"
        echo "    track_script {"
        echo "        chk_haproxy"
        echo "    }"
        echo "    notify \"$notify\""
        echo "}"
    } > "$cfg"
    # keepalived refuses a config others can write; it runs as root.
    sudo chown root:root "$cfg"
    sudo chmod 644 "$cfg"
}

function start_upgrade_harness_services {
    run_process uh-haproxy "$(command -v haproxy) -db -f $UPGRADE_HARNESS_CONF_DIR/haproxy.cfg"
    run_process uh-keepalived "$(command -v keepalived) --dont-fork --log-console --use-file=$UPGRADE_HARNESS_CONF_DIR/keepalived.conf" "" root
    if is_service_enabled uh-haproxy; then
        local _
        for _ in $(seq 30); do
            [[ -S "$UPGRADE_HARNESS_STATE_DIR/admin.sock" ]] && return 0
            sleep 1
        done
        die $LINENO "HAProxy's admin socket did not appear"
    fi
}

function point_catalog_at_haproxy {
    # The public compute endpoint, on the node where keystone runs.
    local host=${UPGRADE_HARNESS_VIP:-$SERVICE_HOST}
    local url="http://$host:$UPGRADE_HARNESS_NOVA_PORT${UPGRADE_HARNESS_NOVA_PATH%/}/v2.1"
    local id
    id=$(openstack --os-cloud devstack-system-admin endpoint list --service compute \
        --interface public -f value -c ID)
    openstack --os-cloud devstack-system-admin endpoint set --url "$url" "$id"
}

function stop_upgrade_harness_services {
    stop_process uh-keepalived
    stop_process uh-haproxy
}

function clean_upgrade_harness {
    sudo rm -rf "$UPGRADE_HARNESS_CONF_DIR" "$UPGRADE_HARNESS_STATE_DIR" "$UPGRADE_HARNESS_VENV"
}

if [[ "$1" == "stack" && "$2" == "pre-install" ]]; then
    if is_service_enabled uh-haproxy uh-keepalived; then
        echo_summary "Installing HAProxy and keepalived for upgrade-harness"
        install_upgrade_harness_packages
    fi
elif [[ "$1" == "stack" && "$2" == "install" ]]; then
    if is_service_enabled upgrade-harness; then
        echo_summary "Installing upgrade-harness"
        install_upgrade_harness
    fi
    if is_service_enabled uh-haproxy upgrade-harness; then
        install_upgrade_harness_uv
    fi
elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
    if is_service_enabled uh-haproxy; then
        echo_summary "Configuring HAProxy in front of nova-api"
        configure_uh_haproxy
    fi
    if is_service_enabled uh-keepalived; then
        echo_summary "Configuring keepalived for the VIP $UPGRADE_HARNESS_VIP"
        configure_uh_keepalived
    fi
elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
    if is_service_enabled uh-haproxy uh-keepalived; then
        echo_summary "Starting HAProxy and keepalived for upgrade-harness"
        start_upgrade_harness_services
    fi
    if is_service_enabled key && is_service_enabled uh-haproxy \
        && [[ "$UPGRADE_HARNESS_CATALOG" == "True" ]]; then
        echo_summary "Pointing the compute endpoint at HAProxy"
        point_catalog_at_haproxy
    fi
fi

if [[ "$1" == "unstack" ]]; then
    stop_upgrade_harness_services
fi

if [[ "$1" == "clean" ]]; then
    clean_upgrade_harness
fi
