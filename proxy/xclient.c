#include "proxy/xclient.h"
