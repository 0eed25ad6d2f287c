#include "proxy/smtp_reply.h"
