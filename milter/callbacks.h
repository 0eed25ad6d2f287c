/*
 * NAME
 *	callbacks - libmilter's callbacks: the chain and the policies behind them
 * SYNOPSIS
 *	callbacks_init(cfg, bridge)
 *	callbacks_desc()
 * DESCRIPTION
 *	callbacks_init() gives the callbacks the configuration (each libmilter
 *	connection takes a reference) and the bridge to the chain's loop.
 *	callbacks_desc() is the filter description for smfi_register().
 */
#ifndef POSTERN_CALLBACKS_H
#define POSTERN_CALLBACKS_H

struct bridge;
struct config;
struct smfiDesc;

void callbacks_init(struct config *cfg, struct bridge *bridge);
const struct smfiDesc *callbacks_desc(void);

#endif
