#pragma once
// A small terminal emulator for tests of TTY output: a fixed grid of cells fed bytes as a
// terminal behind a tty with ONLCR would get them. It knows \r, \n (to the next line's first
// column, scrolling at the bottom), \b, ESC[nA (cursor up), ESC[nB, ESC[nG, ESC[J / ESC[0J /
// ESC[2J (erase below / all), ESC[K (erase to the end of the line); SGR colours and other CSI
// sequences are ignored. It counts what a display test must never cause: a line wrapping
// at the right edge, and the cursor asked to go up past the top (lines lost to the scroll).

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace fgtest {

class Screen {
 public:
  Screen(size_t cols, size_t rows) : cols_(cols), rows_(rows), grid_(rows, Row(cols)) {}

  void feed(std::string_view bytes) {
    for (char c : bytes) put(c);
  }

  /// The screen's lines, trailing blanks cut.
  [[nodiscard]] std::vector<std::string> lines() const {
    std::vector<std::string> out;
    for (const auto& r : grid_) out.push_back(text(r));
    return out;
  }
  /// The lines that scrolled off the top, then the screen's, without the blank lines at the end.
  [[nodiscard]] std::vector<std::string> transcript() const {
    std::vector<std::string> out = scrolled_;
    for (const auto& l : lines()) out.push_back(l);
    while (!out.empty() && out.back().empty()) out.pop_back();
    return out;
  }
  /// The screen as text, one line each, for failure messages.
  [[nodiscard]] std::string dump() const {
    std::string out;
    for (const auto& l : lines()) out += "|" + l + "\n";
    return out;
  }
  [[nodiscard]] size_t row() const { return row_; }
  [[nodiscard]] size_t col() const { return col_; }
  [[nodiscard]] size_t wraps() const { return wraps_; }
  [[nodiscard]] size_t clamped_ups() const { return clamped_ups_; }
  [[nodiscard]] size_t cols() const { return cols_; }

 private:
  using Row = std::vector<std::string>;  // a cell holds one UTF-8 code point, or is empty

  static std::string text(const Row& r) {
    std::string s;
    for (const auto& cell : r) s += cell.empty() ? " " : cell;
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
  }

  void put(char c) {
    if (state_ == State::escape) return escape(c);
    if (state_ == State::csi) return csi(c);
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 && (u & 0xc0) == 0x80) {  // a UTF-8 continuation: part of the last cell
      if (last_cell_) *last_cell_ += c;
      return;
    }
    switch (c) {
      case '\x1b': state_ = State::escape; return;
      case '\r': col_ = 0; return;
      case '\n': col_ = 0; return down();
      case '\b': col_ = col_ > 0 ? col_ - 1 : 0; return;
      default: break;
    }
    if (u < 0x20) return;
    if (col_ >= cols_) {  // the last column was written: wrap first
      ++wraps_;
      col_ = 0;
      down();
    }
    grid_[row_][col_] = std::string(1, c);
    last_cell_ = &grid_[row_][col_];
    ++col_;
  }

  void down() {
    if (row_ + 1 < rows_) {
      ++row_;
      return;
    }
    scrolled_.push_back(text(grid_.front()));
    grid_.erase(grid_.begin());
    grid_.emplace_back(cols_);
    last_cell_ = nullptr;
  }

  void escape(char c) {
    state_ = c == '[' ? State::csi : State::ground;
    params_.clear();
  }

  void csi(char c) {
    if ((c >= '0' && c <= '9') || c == ';' || c == '?') {
      params_ += c;
      return;
    }
    state_ = State::ground;
    size_t n = params_.empty() || params_[0] == '?' ? 0 : static_cast<size_t>(std::stoul("0" + params_.substr(0, params_.find(';'))));
    switch (c) {
      case 'A': up(std::max<size_t>(n, 1)); break;
      case 'B': row_ = std::min(rows_ - 1, row_ + std::max<size_t>(n, 1)); break;
      case 'G': col_ = std::min(cols_ - 1, std::max<size_t>(n, 1) - 1); break;
      case 'J': erase_display(n); break;
      case 'K': erase_line(); break;
      default: break;  // SGR (m) and the rest change nothing a test reads
    }
  }

  void up(size_t n) {
    if (n > row_) ++clamped_ups_;
    row_ -= std::min(n, row_);
  }

  void erase_line() {
    for (size_t c = std::min(col_, cols_); c < cols_; ++c) grid_[row_][c].clear();
  }

  void erase_display(size_t mode) {
    if (mode == 2) {
      for (auto& r : grid_) std::fill(r.begin(), r.end(), std::string());
      return;
    }
    erase_line();
    for (size_t r = row_ + 1; r < rows_; ++r) std::fill(grid_[r].begin(), grid_[r].end(), std::string());
  }

  enum class State { ground, escape, csi };
  size_t cols_, rows_;
  std::vector<Row> grid_;
  std::vector<std::string> scrolled_;
  size_t row_ = 0, col_ = 0;
  size_t wraps_ = 0, clamped_ups_ = 0;
  State state_ = State::ground;
  std::string params_;
  std::string* last_cell_ = nullptr;
};

}  // namespace fgtest
