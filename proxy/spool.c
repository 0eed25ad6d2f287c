#include "proxy/spool.h"
