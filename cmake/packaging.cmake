# cpack -G DEB (scripts/package): flavourgraph_<version>_<arch>.deb of what cmake/install.cmake
# installs, under /usr. Its Depends come from dpkg-shlibdeps (dpkg-dev) on the binary, decided
# when cpack runs (cmake/cpack_options.cmake), else from the list below.
set(FG_PACKAGE_MAINTAINER "flavourgraph maintainers <flavourgraph@localhost>"
    CACHE STRING "The .deb's Maintainer field")

set(CPACK_PACKAGE_NAME flavourgraph)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${FG_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "builds the container images of a deployments file, as a task graph")
set(CPACK_PACKAGE_DESCRIPTION
  "flavourgraph reads images.yaml (images, their flavours and kinds) and a helmfile
deployments file, and builds, tags and pushes every image the releases run as one
parallel task graph in which identical work is done once: base pulls, reproducible
layers, RUN builds (buildah, podman or BuildKit), tags and pushes. It then writes
each release's helmfile values files. Unchanged inputs are not rebuilt, and an
image whose layer alone changed gets one small delta layer.")
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Without dpkg-shlibdeps: Debian 12's packages of the libraries the binary links (readelf -d).
set(CPACK_FG_DEB_DEPENDS "libc6, libgcc-s1, libstdc++6, libtbb12, libyaml-cpp0.7, libfmt9, libcurl4, libssl3, libdeflate0, libzstd1")
# The tools flavourgraph runs: buildah for RUN builds, git for values directories. skopeo and
# podman help to look at and run what it built.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "buildah, git")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "skopeo, podman")
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/cmake/cpack_options.cmake)
include(CPack)
