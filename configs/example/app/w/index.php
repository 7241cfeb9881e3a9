<?php
require __DIR__ . '/../multiversion/MWVersion.php';
require __DIR__ . '/../' . getMediaWikiVersion( $_SERVER['HTTP_HOST'] ?? 'testwiki' ) . '/index.php';
