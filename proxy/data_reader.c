#include "proxy/data_reader.h"
