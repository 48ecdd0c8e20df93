#!/bin/sh
# SPDX-License-Identifier: MIT
# packaging/debversion.sh VERSION - the Debian package version of a build
# version (git describe --tags --always --dirty, or VERSION):
#   v1.2.0                    1.2.0
#   v1.2.0-14-g3fa2c1d        1.2.0+14.g3fa2c1d   (after 1.2.0, before 1.2.1)
#   v1.2.0-14-g3fa2c1d-dirty  1.2.0+14.g3fa2c1d.dirty
#   3fa2c1d (no tag yet)      0.0.0+g3fa2c1d
#   0.0.0-unknown             0.0.0+unknown
# The result is a native version: digits first, then [0-9A-Za-z.+~] only.
# Untagged builds all sort as 0.0.0+g<hash>, in no useful order: tag
# releases (v1.0.0) so that upgrades between packages are ordered.
set -eu
v=${1:?usage: debversion.sh VERSION}
v=${v#v}
# a bare commit hash (no tag), which may well start with a digit
if printf '%s\n' "$v" | grep -Eqx '[0-9a-f]{4,40}(-dirty)?'; then
	v=0.0.0+g$v
fi
case "$v" in
[0-9]*) ;;
*) v=0.0.0+$v ;;
esac
# the first '-' separates upstream from what describe added: '+', the rest '.'
v=$(printf '%s\n' "$v" | sed -e 's/-/+/' -e 's/-/./g' -e 's/[^0-9A-Za-z.+~]/./g')
printf '%s\n' "$v"
