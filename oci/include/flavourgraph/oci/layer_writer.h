#pragma once
/// Builds a layer blob in one streaming pass: read files → tar → compress chunks on all cores
/// → SHA-256 of the tar (the diffID) and of the compressed blob → a verified blob in the store.
/// Memory is bounded by the number of chunks in flight, whatever the tree's size.

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

#include "flavourgraph/cancel.h"
#include "flavourgraph/oci/compress.h"
#include "flavourgraph/oci/errors.h"
#include "flavourgraph/oci/layout.h"
#include "flavourgraph/oci/tar_writer.h"
#include "flavourgraph/oci/tree.h"

namespace flavourgraph::oci {

struct LayerBlob {
  Digest diff_id;      ///< sha256 of the uncompressed tar
  Descriptor blob;     ///< the compressed blob in the store
  uint64_t tar_size = 0;
};

/// Writes the layer of `listing` (rooted at `root`) into `store`. Throws Cancelled when
/// `cancel` is requested, std::runtime_error / StoreError on failure (no temp file is left).
/// `on_read`, when given, hears of the tar bytes read so far after each chunk (one call at a
/// time, in order).
LayerBlob write_layer(const std::filesystem::path& root, const TreeListing& listing, const TarOptions& tar,
                      const CompressionSpec& compression, Layout& store, const CancelSource& cancel,
                      const std::function<void(uint64_t read)>& on_read = {});

/// The cache key of a layer: everything that decides its bytes without reading file contents:
/// the tree's hash (see tree_hash), the tar options, the filters, the compressor, its level and
/// the chunk size, and the format version.
std::string layer_cache_key(const std::filesystem::path& root, const std::string& tree_hash, const TarOptions& tar,
                            const CompressionSpec& compression, const std::vector<std::string>& include,
                            const std::vector<std::string>& exclude);

}  // namespace flavourgraph::oci
