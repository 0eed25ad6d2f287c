/*
 * NAME
 *	callbacks - libmilter's callbacks: the chain and the policies behind them
 * SYNOPSIS
 *	callbacks_init(bridge)
 *	callbacks_set_config(cfg)
 *	callbacks_desc()
 * DESCRIPTION
 *	callbacks_init() gives the callbacks the bridge to the chain's loop.
 *	callbacks_set_config() installs a configuration, taking the caller's
 *	reference (from any thread; each libmilter connection takes a
 *	reference to the one installed when it connects and keeps it to its
 *	close); the one it replaces is freed on the bridge's loop once no
 *	connection holds it. callbacks_set_config(NULL) at the end, before
 *	bridge_stop().
 *	callbacks_desc() is the filter description for smfi_register().
 */
#ifndef POSTERN_CALLBACKS_H
#define POSTERN_CALLBACKS_H

struct bridge;
struct config;
struct smfiDesc;

void callbacks_init(struct bridge *bridge);
void callbacks_set_config(struct config *cfg);
const struct smfiDesc *callbacks_desc(void);

#endif
