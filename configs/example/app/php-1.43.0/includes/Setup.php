<?php
// MediaWiki 1.43.0 setup (example tree).
define( 'MW_VERSION', '1.43.0' );
