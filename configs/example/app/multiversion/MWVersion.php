<?php
// Picks the MediaWiki version a request is served by (example tree).
function getMediaWikiVersion(string $wiki): string {
	return $wiki === 'testwiki' ? 'php-1.43.0' : 'php-1.42.0';
}
