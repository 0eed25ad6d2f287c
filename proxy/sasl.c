/*
 * NAME
 *	sasl - who a client says it is, from its first SASL response
 * SYNOPSIS
 *	See sasl.h.
 * DESCRIPTION
 *	Base64 is OpenSSL's (EVP_DecodeBlock), which counts padding as zero
 *	octets: the "=" at the end are subtracted again.
 */
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "proxy/sasl.h"

#define SASL_RESPONSE_MAX 2048 /* encoded octets considered */

/* The name, if printable and not empty, into user. */
static int
copy_name(const unsigned char *name, size_t n, char *user, size_t size)
{
	if (n == 0 || n >= size)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (name[i] < 0x21 || name[i] == 0x7f)
			return -1;
	memcpy(user, name, n);
	user[n] = '\0';
	return 0;
}

int
sasl_user(const char *mech, const char *response, size_t len, char *user, size_t size)
{
	unsigned char plain[SASL_RESPONSE_MAX / 4 * 3 + 1];
	int login = strcasecmp(mech, "LOGIN") == 0;
	int rc = -1;

	if ((!login && strcasecmp(mech, "PLAIN") != 0) || len == 0 || len % 4 != 0 ||
	    len > SASL_RESPONSE_MAX)
		return -1;
	int n = EVP_DecodeBlock(plain, (const unsigned char *)response, (int)len);

	if (n < 0)
		return -1;
	for (size_t i = len; i > 0 && response[i - 1] == '=' && n > 0; i--)
		n--;
	if (login) {
		rc = copy_name(plain, (size_t)n, user, size);
	} else {
		/* authzid NUL authcid NUL passwd */
		const unsigned char *first = memchr(plain, '\0', (size_t)n);
		const unsigned char *second =
		        first ? memchr(first + 1, '\0', (size_t)(plain + n - first - 1)) : NULL;

		if (second != NULL)
			rc = copy_name(first + 1, (size_t)(second - first - 1), user, size);
	}
	OPENSSL_cleanse(plain, sizeof(plain));
	return rc;
}
