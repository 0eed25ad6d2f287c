#!/usr/bin/perl
# dkim_sign.pl - sign a message with Mail::DKIM (libmail-dkim-perl).
#
# usage: dkim_sign.pl KEYFILE DOMAIN SELECTOR CANON [expired] < MSG > SIGNED
#
# CANON is Mail::DKIM's Method ("relaxed/relaxed", "simple/simple"); with
# "expired" the signature carries t= two hours and x= one hour in the past.
use strict;
use warnings;
use Mail::DKIM::PrivateKey;
use Mail::DKIM::Signer;
use Mail::DKIM::TextWrap;

my ($keyfile, $domain, $selector, $canon, $expired) = @ARGV;
# Mail::DKIM reads the key file line by line: read the message in a block of its own.
my $msg = do { local $/; <STDIN> };
$msg =~ s/\r?\n/\r\n/g;
my %opt = (
	Algorithm => 'rsa-sha256',
	Method    => $canon,
	Domain    => $domain,
	Selector  => $selector,
	Key       => Mail::DKIM::PrivateKey->load(File => $keyfile),
);
if ($expired) {
	$opt{Timestamp}  = time - 7200;
	$opt{Expiration} = time - 3600;
}
my $signer = Mail::DKIM::Signer->new(%opt);
$signer->PRINT($msg);
$signer->CLOSE;
print $signer->signature->as_string, "\r\n", $msg;
