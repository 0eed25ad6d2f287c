#!/bin/sh
# Turn a text file into a C array, so the default policy is part of the binary.
# Usage: embed.sh FILE > FILE.c
set -e
printf '#include <stddef.h>\n\n/* Generated from %s by policies/embed.sh. */\n' "$(basename "$1")"
printf 'const char config_default_yaml[] = {\n'
od -An -v -tx1 "$1" | sed -e 's/  */ /g' -e 's/^ //' -e '/^$/d' -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'
printf '0x00 };\nconst size_t config_default_yaml_len = sizeof(config_default_yaml) - 1;\n'
