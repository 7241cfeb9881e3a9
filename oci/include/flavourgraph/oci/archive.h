#pragma once
/// oci-archive: an OCI image layout in one tar file, what build engines read and write
/// (`podman load`/`save --format oci-archive`, buildah's `oci-archive:` transport). It is how
/// images go to and come back from the command backend.

#include <filesystem>
#include <string_view>

#include "flavourgraph/oci/layout.h"
#include "flavourgraph/oci/types.h"

namespace flavourgraph::oci {

/// Writes the image `manifest` of `store` (its manifest, config and layers, which must all be
/// in the store) as an oci-archive whose index names it `ref`. Written to a temp name, then
/// renamed.
void write_oci_archive(const Layout& store, const Descriptor& manifest, std::string_view ref,
                       const std::filesystem::path& out);

/// Reads an oci-archive holding one image into `store`: every blob verified against its
/// digest, and every blob the image needs present with its size. Returns the image's manifest
/// descriptor. Throws StoreError naming the archive on anything else.
Descriptor import_oci_archive(const std::filesystem::path& archive, Layout& store);

}  // namespace flavourgraph::oci
