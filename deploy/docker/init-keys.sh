#!/bin/sh
# init-keys.sh - the `keys` step of compose.yaml: CURVE key pairs and the
# broker's access list, made once, each secret only in the volume of the
# container that uses it.  Runs as root in the samskap image (it must chown
# the files to the daemons' uid 10001; the daemons refuse a secret key file
# that group or others may read).
#
#   /init/broker    broker.key, access, ops.key, broker.key.pub   (broker container)
#   /init/node-N    node.key, broker.key.pub                      (node N)
#   /init/client    client.key, broker.key.pub                    (the cli tool)
#
# Existing keys are kept: delete the volumes to make new ones (see
# docs/operations.md, "Key rotation").
set -eu
NODES=${NODES:-"1504 1534"}
REGION=${REGION:-1507}
UID_GID=${UID_GID:-10001:10001}
INIT=${INIT:-/init}

if [ -e "$INIT"/broker/broker.key ]; then
    echo "init-keys: keys exist; keeping them"
    exit 0
fi
umask 077
samskap keygen broker --out "$INIT"/broker/broker.key >/dev/null
ops=$(samskap keygen ops --out "$INIT"/broker/ops.key)
{
    echo "# ROLE NAME PUBLIC-KEY TENANTS [SERVICES]  (written by init-keys.sh)"
    echo "admin ops $ops *"
} >"$INIT"/broker/access.new
for n in $NODES; do
    pub=$(samskap keygen "node-$n" --out "$INIT/node-$n/node.key")
    echo "node node-$n $pub $n,$REGION" >>"$INIT"/broker/access.new
    cp "$INIT"/broker/broker.key.pub "$INIT/node-$n/"
done
all=$(echo $NODES | tr ' ' ',')
pub=$(samskap keygen client --out "$INIT"/client/client.key)
echo "client pipeline $pub $all,$REGION" >>"$INIT"/broker/access.new
cp "$INIT"/broker/broker.key.pub "$INIT"/client/
mv "$INIT"/broker/access.new "$INIT"/broker/access
chmod 0644 "$INIT"/*/*.pub
chmod 0600 "$INIT"/broker/access "$INIT"/*/*.key
chown -R "$UID_GID" "$INIT"/*
chmod 0750 "$INIT"/*
echo "init-keys: wrote keys for broker, ops, $(echo $NODES | sed 's/[0-9][0-9]*/node-&/g'), client"
cat "$INIT"/broker/access
