#!/bin/sh
# `npm run cluster:kind`: watch real Argo CD sync real tenants, on your machine. Needs Docker, kind, kubectl, git.
#
# NOT RUN BY CI, and never run on the machines this project is developed on: they have no Docker. The test suite
# uses a real control plane with an Argo CD stand-in instead (test/cluster/). Treat this as a recipe.
#
#   DEPLOY_REPO_URL=git@github.com:you/neurallog-deploy.git npm run cluster:kind
#
# Creates the kind cluster (scripts/kind-cluster.yaml), installs Argo CD, publishes the example tenants to
# DEPLOY_REPO_URL (a repo you can push to and Argo CD can read; private repos: `argocd repo add` first) and
# applies the argocd/ bootstrap pointed at it. Re-running it is safe.
set -eu

: "${DEPLOY_REPO_URL:?set DEPLOY_REPO_URL to a git repo you can push to and Argo CD can read}"
branch=${DEPLOY_REPO_BRANCH:-main}
cluster=${KIND_CLUSTER_NAME:-neurallog}
argocd_version=${ARGOCD_VERSION:-v3.6.1} # the CRD version the test suite validates against
root=$(cd "$(dirname "$0")/.." && pwd)

for tool in docker kind kubectl git node; do
  command -v "$tool" >/dev/null || { echo "cluster:kind needs $tool on PATH" >&2; exit 1; }
done

if ! kind get clusters | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" --config "$root/scripts/kind-cluster.yaml"
fi
kubectl config use-context "kind-$cluster"

kubectl create namespace argocd --dry-run=client -o yaml | kubectl apply -f -
# Server-side: the ApplicationSet CRD is too large for client-side apply.
kubectl apply -n argocd --server-side --force-conflicts \
  -f "https://raw.githubusercontent.com/argoproj/argo-cd/$argocd_version/manifests/install.yaml"
for deployment in argocd-server argocd-repo-server argocd-applicationset-controller; do
  kubectl -n argocd rollout status "deployment/$deployment" --timeout=300s
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The example tenants, with the platform file pointing at your deployment repo (the ApplicationSet that synth
# renders reads its repo URL from there).
cp -R "$root/tenants" "$work/tenants"
sed -e "s#^    url: .*#    url: $DEPLOY_REPO_URL#" -e "s#^    branch: .*#    branch: $branch#" \
  "$root/tenants/_platform.yaml" >"$work/tenants/_platform.yaml"
(cd "$root" && node bin/neurallog.ts publish --tenants "$work/tenants" --repo "$DEPLOY_REPO_URL" --branch "$branch")

mkdir "$work/argocd"
for file in project-platform.yaml app-tenants.yaml app-platform.yaml; do
  sed -e "s#https://git.example.com/platform/neurallog-deploy.git#$DEPLOY_REPO_URL#" \
    -e "s#targetRevision: main#targetRevision: $branch#" "$root/argocd/$file" >"$work/argocd/$file"
done
kubectl apply -n argocd -f "$work/argocd/"

cat <<EOM

Argo CD is syncing $DEPLOY_REPO_URL ($branch). Watch it:
  kubectl -n argocd get applications -w
  kubectl -n argocd port-forward svc/argocd-server 8443:443   # https://localhost:8443, user admin
  kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d
Tenant pods pull the images pinned in tenants/_platform.yaml; replace them there if they are not reachable.
Remove everything: kind delete cluster --name $cluster
EOM
