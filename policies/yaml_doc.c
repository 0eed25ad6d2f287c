#include "policies/yaml_doc.h"
