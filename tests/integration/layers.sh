#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The layers of docs/architecture.md, checked: arrows point down only.
#
#   wiring   gateway/{main,daemon*,scheduler,flight,clockmarks,meter_ident,config,config_bus}.c
#            and their headers (daemon_ctx.h, config_parse.h): may include
#            every layer
#   drivers  drivers/*        : drivers and common only
#   core     gateway/* (else) : core and common only
#   common   gateway/common/* : common only
#
# Two checks per layer. Every `#include "..."` names a header of an
# allowed layer, by its bare name (a path such as "../gateway/config.h"
# would step over the wall). And every file of the layer compiles
# (-fsyntax-only, headers on their own too) with nothing but the allowed
# layers' headers on its include path: each layer's files are linked into
# a directory of their own for that, since a quoted include is looked up
# next to the file first.
. "$(dirname "$0")/../lib.sh"

cd "$GW_TOP" || exit 1
WIRING="main daemon daemon_* scheduler flight clockmarks meter_ident config config_bus config_parse"

layer_of() { # FILE -> common | drivers | core | wiring
	local f=$1 base
	case "$f" in
	gateway/common/*) echo common; return ;;
	drivers/*) echo drivers; return ;;
	esac
	base=$(basename "$f")
	base=${base%.*}
	for w in $WIRING; do
		# shellcheck disable=SC2053 # a pattern: daemon_*
		[[ "$base" == $w ]] && { echo wiring; return; }
	done
	echo core
}

allowed() { # LAYER -> the layers it may include
	case "$1" in
	common) echo "common" ;;
	drivers) echo "drivers common" ;;
	core) echo "core common" ;;
	wiring) echo "wiring core drivers common" ;;
	esac
}

files=$(ls gateway/common/*.[ch] drivers/*.[ch] gateway/*.[ch])

# 1. The #include lines.
bad=0
for f in $files; do
	from=$(layer_of "$f")
	while IFS= read -r inc; do
		h=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]*)".*/\1/' <<<"$inc")
		case "$h" in
		*/*)
			echo "# $f: #include \"$h\" names a path; headers are included by name"
			bad=1
			continue ;;
		esac
		where=$(ls gateway/common/"$h" drivers/"$h" gateway/"$h" 2>/dev/null | head -1)
		if [ -z "$where" ]; then
			echo "# $f: #include \"$h\": no such header in gateway/ or drivers/"
			bad=1
			continue
		fi
		to=$(layer_of "$where")
		case " $(allowed "$from") " in
		*" $to "*) ;;
		*)
			echo "# $f ($from) includes $where ($to): arrows point down only"
			bad=1 ;;
		esac
	done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f")
done
if [ $bad -eq 0 ]; then
	ok "every #include names a header of its own layer or one below"
else
	not_ok "an #include points up or sideways (see above)"
fi

# 2. Each layer compiles with only its own and lower layers' headers.
tree="$GW_TMP/layers"
for l in common drivers core wiring; do mkdir -p "$tree/$l"; done
for f in $files; do
	ln -s "$GW_TOP/$f" "$tree/$(layer_of "$f")/$(basename "$f")"
done
# shellcheck disable=SC2046
pkg=$(pkg-config --cflags libmodbus libserialport libpq zlib 2>/dev/null)
for l in common drivers core; do
	inc=""
	for a in $(allowed "$l"); do inc="$inc -I$tree/$a"; done
	failed=""
	for f in "$tree/$l"/*.c "$tree/$l"/*.h; do
		# shellcheck disable=SC2086
		if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE -fsyntax-only $pkg $inc \
			-x c "$f" 2>"$GW_TMP/cc.err"; then
			# the first file's first error says enough
			[ -z "$failed" ] && grep -m1 'error' "$GW_TMP/cc.err" | sed 's/^/#   /'
			failed="$failed $(basename "$f")"
		fi
	done
	if [ -z "$failed" ]; then
		ok "$l compiles with the headers of: $(allowed "$l")"
	else
		not_ok "$l does not compile with the headers of $(allowed "$l") alone:$failed"
	fi
done
finish
