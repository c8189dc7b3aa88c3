#!/bin/sh
# The official image's template step: each $NGINX_ENVSUBST_TEMPLATE_DIR/*.template (default
# /etc/nginx/templates) becomes $NGINX_ENVSUBST_OUTPUT_DIR/<name> (default /etc/nginx/conf.d),
# with only the defined environment variables whose names match NGINX_ENVSUBST_FILTER (if set)
# substituted; every other `$` is left to nginx.
set -e
template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
filter="${NGINX_ENVSUBST_FILTER:-}"
[ -d "$template_dir" ] || exit 0
defined_envs=$(printf '${%s} ' $(env | cut -d= -f1 | grep -E "$filter"))
for template in "$template_dir"/*"$suffix"; do
    [ -f "$template" ] || continue
    name=$(basename "$template" "$suffix")
    echo "$0: Running envsubst on $template to $output_dir/$name"
    envsubst "$defined_envs" < "$template" > "$output_dir/$name"
done
