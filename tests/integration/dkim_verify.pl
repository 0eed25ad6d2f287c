#!/usr/bin/perl
# dkim_verify.pl - verify a message's DKIM signatures with Mail::DKIM.
#
# usage: dkim_verify.pl DNS_PORT < MSG
#
# Keys come from 127.0.0.1:DNS_PORT (the test's unbound) through Net::DNS.
# Prints one line per signature, "RESULT d=D s=S" (Mail::DKIM's words: pass,
# fail, invalid), and exits 0 when every signature passed.
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Net::DNS;

my $port = shift;
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(nameservers => ['127.0.0.1'], port => $port,
	udp_timeout => 5, tcp_timeout => 5, retry => 1));
my $msg = do { local $/; <STDIN> };
$msg =~ s/\r?\n/\r\n/g;
my $v = Mail::DKIM::Verifier->new;
$v->PRINT($msg);
$v->CLOSE;
my $ok = 1;
my @sigs = $v->signatures;
$ok = 0 unless @sigs;
for my $s (@sigs) {
	printf "%s d=%s s=%s\n", $s->result, $s->domain, $s->selector;
	$ok = 0 if $s->result ne 'pass';
}
exit($ok ? 0 : 1);
