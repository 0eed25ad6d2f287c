#include "policies/config.h"
