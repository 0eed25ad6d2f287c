#include "common/xalloc.h"
