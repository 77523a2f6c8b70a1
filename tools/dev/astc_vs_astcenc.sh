#!/usr/bin/env bash
# Side by side with ARM's astcenc tool: bcfeat (libastcenc) and `astcenc -cl` encode every PNG
# of a directory at the same preset; prints how many .astc files are byte-identical.
#   tools/dev/astc_vs_astcenc.sh DIR [SIZES (default "4x4 6x6 8x8")] [QUALITY (default normal)]
set -u
dir=$1
sizes=${2:-"4x4 6x6 8x8"}
quality=${3:-normal}
case $quality in fast) preset=-fast ;; normal) preset=-medium ;; high) preset=-thorough ;; *) preset=-$quality ;; esac
bcfeat=$(cd "$(dirname "$0")/../.." && pwd)/build/bcfeat
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
total=0 same=0
for image in "$dir"/*.png; do
  for size in $sizes; do
    "$bcfeat" codec encode "$image" "$work/a.astc" --format "astc_$size" --quality "$quality" >/dev/null || exit 2
    astcenc -cl "$image" "$work/b.astc" "$size" "$preset" -silent >/dev/null || exit 2
    total=$((total + 1))
    if cmp -s "$work/a.astc" "$work/b.astc"; then same=$((same + 1)); else echo "differs: $(basename "$image") $size"; fi
  done
done
echo "$same of $total .astc files identical (bcfeat --quality $quality vs astcenc $preset; sizes $sizes)"
[ "$same" = "$total" ]
