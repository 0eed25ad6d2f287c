#include "proxy/caps.h"
