#!/usr/bin/env bash
# Rebuild the real-code folders from manifest.tsv: one sub-folder per public copy, each file taken
# byte for byte from its repository at the listed commit (git over the network). The copies are
# others' code: they stay outside this repository.
#   bash benchmarks/real_code/collect.sh DEST [PACK]
set -euo pipefail
dest=${1:?usage: collect.sh DEST [PACK]}
only=${2:-}
manifest="$(dirname "$0")/manifest.tsv"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tail -n +2 "$manifest" | while IFS=$'\t' read -r pack repo commit path saved_as beside blob; do
    [ -z "$only" ] || [ "$only" = "$pack" ] || continue
    git_dir="$tmp/${repo//\//+}.git"
    [ -d "$git_dir" ] || git clone -q --bare --filter=blob:none "https://github.com/$repo.git" "$git_dir" ||
        { echo "skipped $repo: cannot clone" >&2; continue; }
    out="$dest/$pack/$saved_as"
    mkdir -p "$(dirname "$out")"
    git --git-dir="$git_dir" show "$commit:$path" > "$out"
    [ "$(git hash-object "$out")" = "$blob" ] || echo "warning: $out differs from blob $blob" >&2
    [ "$beside" = "-" ] && continue
    folder=$(dirname "$out")
    IFS=',' read -ra extras <<< "$beside"
    for extra in "${extras[@]}"; do
        if [[ "$extra" == */\*.py ]]; then               # a package folder (DLFS's common/)
            sub=${extra%/\*.py}
            mkdir -p "$folder/$(basename "$sub")"
            for f in $(git --git-dir="$git_dir" ls-tree --name-only "$commit" "$sub/" | grep '\.py$'); do
                git --git-dir="$git_dir" show "$commit:$f" > "$folder/$(basename "$sub")/$(basename "$f")"
            done
        else
            git --git-dir="$git_dir" show "$commit:$extra" > "$folder/$(basename "$extra")" || true
        fi
    done
done
