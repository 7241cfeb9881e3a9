<?php
// MediaWiki 1.42.0 setup (example tree).
define( 'MW_VERSION', '1.42.0' );
