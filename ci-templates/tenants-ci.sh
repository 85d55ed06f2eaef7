#!/bin/sh
# The tenants repo's CI for systems other than GitHub Actions (GitLab CI, Jenkins, Buildkite, a cron job ...).
# Plain POSIX sh; needs git, Node 24 and `npm ci` done. Run from the tenants repo's root.
#
#   tenants-ci.sh pr BASE_REF [OUT.md]   pull request: validate (incl. the decommission guard against BASE_REF)
#                                        and diff; writes the diff as Markdown to OUT.md (default
#                                        neurallog-diff.md) for the CI system to post as a comment.
#                                        Exit 0 when valid (with or without changes), 1 when not.
#   tenants-ci.sh publish REPO [BRANCH]  after merge: render and commit to the deployment repo. Credentials are
#                                        git's own (SSH agent, credential helper); run one publish at a time.
#
# Environment: TENANTS_DIR (default tenants), NEURALLOG (default "npx --no-install neurallog").
set -eu

tenants=${TENANTS_DIR:-tenants}
neurallog=${NEURALLOG:-npx --no-install neurallog}

usage() {
  echo "usage: $0 pr BASE_REF [OUT.md] | publish REPO [BRANCH]" >&2
  exit 64
}

[ $# -ge 2 ] || usage
command=$1
shift

case $command in
  pr)
    base=$1
    out=${2:-neurallog-diff.md}
    # A shallow CI checkout may not have the base yet.
    git rev-parse --verify --quiet "$base^{commit}" >/dev/null || git fetch --quiet origin "${base#origin/}"
    $neurallog validate --tenants "$tenants" --base "$base"
    status=0
    $neurallog diff --tenants "$tenants" --base "$base" --format markdown >"$out" || status=$?
    case $status in
      0) echo "no change to the rendered manifests" ;;
      2) echo "rendered manifests change; see $out" ;;
      *) exit "$status" ;;
    esac
    ;;
  publish)
    repo=$1
    if [ $# -ge 2 ]; then
      $neurallog publish --tenants "$tenants" --repo "$repo" --branch "$2"
    else
      $neurallog publish --tenants "$tenants" --repo "$repo"
    fi
    ;;
  *) usage ;;
esac
