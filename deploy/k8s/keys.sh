#!/bin/sh
# keys.sh - make the CURVE keys for deploy/k8s and print the Secret
# (samskap-keys) and the access list (ConfigMap samskap-access) as manifests:
#
#   sh deploy/k8s/keys.sh DIR [MUNICIPALITY...] | kubectl apply -f -
#
# DIR gets the key files (keep it safe, e.g. in your secrets store, or
# delete it after applying): broker.key, node-<M>.key per municipality
# (default 1504 1534), ops.key (an admin key for `samskap services`/`jobs`)
# and client.key (a pipeline key for all of them and the region 1507).
# Existing key files are reused, so running it again re-applies the same
# keys; delete a file to rotate that key (docs/operations.md).
# Needs `samskap` and `kubectl` (only for printing; no cluster is contacted).
set -eu
[ $# -ge 1 ] || { echo "usage: keys.sh DIR [MUNICIPALITY...]" >&2; exit 2; }
DIR=$1
shift
MUNIS=${*:-"1504 1534"}
REGION=${REGION:-1507}
NS=${NAMESPACE:-samskap}
SAMSKAP=${SAMSKAP:-samskap}
mkdir -p "$DIR"
chmod 0700 "$DIR"

key() {  # key NAME FILE: make FILE once; print its public key
    [ -e "$2" ] || "$SAMSKAP" keygen "$1" --out "$2" >/dev/null 2>&1 || { echo "keys.sh: keygen $2 failed" >&2; exit 1; }
    sed -n 's/^public = //p' "$2"
}

ops=$(key ops "$DIR/ops.key")
client=$(key client "$DIR/client.key")
key broker "$DIR/broker.key" >/dev/null
{
    echo "# ROLE NAME PUBLIC-KEY TENANTS [SERVICES]   (deploy/k8s/keys.sh)"
    echo "admin ops $ops *"
    echo "client pipeline $client $(echo $MUNIS | tr ' ' ','),$REGION"
    for m in $MUNIS; do
        echo "node node-$m $(key "node-$m" "$DIR/node-$m.key") $m,$REGION"
    done
} >"$DIR/access"

set -- --from-file=broker.key="$DIR/broker.key" --from-file=broker.key.pub="$DIR/broker.key.pub"
for m in $MUNIS; do
    set -- "$@" --from-file="node-$m.key=$DIR/node-$m.key"
done
kubectl create secret generic samskap-keys --namespace "$NS" "$@" --dry-run=client -o yaml
echo "---"
# The access list: public keys only.  Restart the broker after a change
# (kubectl -n samskap rollout restart statefulset/samskap-broker).
kubectl create configmap samskap-access --namespace "$NS" --from-file=access="$DIR/access" --dry-run=client -o yaml
