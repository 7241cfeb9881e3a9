<?php
require __DIR__ . '/includes/Setup.php';
echo "MediaWiki " . MW_VERSION . "\n";
