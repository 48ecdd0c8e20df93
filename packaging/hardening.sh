#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packaging/hardening.sh ELF... - whether each program has the hardening
# that Debian's build flags give (what lintian's hardening-no-* tags and
# devscripts' hardening-check look for), read from the ELF file with
# readelf, so that it works for a cross-built (ARM) program too and on a
# stripped one:
#
#   pie      position independent executable (ET_DYN, DF_1_PIE)
#   relro    a GNU_RELRO segment (-Wl,-z,relro)
#   bindnow  BIND_NOW / DF_1_NOW (-Wl,-z,now): relocations resolved at start
#   stack    -fstack-protector-strong: __stack_chk_fail imported
#   fortify  -D_FORTIFY_SOURCE=2: a checked libc function (__*_chk) imported
#
# Prints "FILE: pie relro bindnow stack fortify" for each, with "no-X" for a
# feature missing, and exits 1 if any is. (run by packaging/mkdeb.sh)
set -uo pipefail
[ $# -gt 0 ] || { echo "usage: packaging/hardening.sh ELF..." >&2; exit 2; }
bad=0
for f in "$@"; do
	h=$(LC_ALL=C readelf -hldW --dyn-syms "$f" 2>/dev/null) || { echo "$f: not an ELF file" >&2; bad=1; continue; }
	has() { grep -qE "$1" <<<"$h"; }
	out=()
	if has 'Type: +DYN' && has 'FLAGS_1.*PIE'; then out+=(pie); else out+=(no-pie); fi
	if has '^ +GNU_RELRO '; then out+=(relro); else out+=(no-relro); fi
	if has '\(FLAGS\).*BIND_NOW' || has 'FLAGS_1.*NOW'; then out+=(bindnow); else out+=(no-bindnow); fi
	if has ' UND __stack_chk_fail'; then out+=(stack); else out+=(no-stack); fi
	if has ' UND __[a-z0-9_]+_chk(@|$)'; then out+=(fortify); else out+=(no-fortify); fi
	echo "$f: ${out[*]}"
	case " ${out[*]}" in *" no-"*) bad=1 ;; esac
done
exit "$bad"
