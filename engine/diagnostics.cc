#include "flavourgraph/diagnostics.h"

#include <algorithm>

namespace flavourgraph {

std::string Location::str() const {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  return out;
}

std::string Diagnostic::str() const {
  std::string out;
  std::string place = where.str();
  if (!place.empty()) out += place + ": ";
  if (severity == Severity::warning) out += "warning: ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

void Diagnostics::error(Location where, std::string field, std::string message) {
  items_.push_back({Severity::error, std::move(where), std::move(field), std::move(message)});
}

void Diagnostics::warning(Location where, std::string field, std::string message) {
  items_.push_back({Severity::warning, std::move(where), std::move(field), std::move(message)});
}

void Diagnostics::append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

bool Diagnostics::has_errors() const { return error_count() > 0; }

size_t Diagnostics::error_count() const {
  return static_cast<size_t>(std::count_if(items_.begin(), items_.end(), [](const Diagnostic& d) {
    return d.severity == Severity::error;
  }));
}

bool Diagnostics::mentions(std::string_view needle) const {
  return std::any_of(items_.begin(), items_.end(),
                     [&](const Diagnostic& d) { return d.str().find(needle) != std::string::npos; });
}

std::string Diagnostics::str() const {
  std::string out;
  for (const auto& d : items_) out += d.str() + '\n';
  return out;
}
}  // namespace flavourgraph
