#!/bin/bash
. "$(dirname "$0")/lib/setup.sh"
ok placeholder
