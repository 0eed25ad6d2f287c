#include "proxy/smtp_cmd.h"
