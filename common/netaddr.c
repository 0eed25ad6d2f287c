#include "common/netaddr.h"
