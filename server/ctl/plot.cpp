#include "server/ctl/plot.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>

namespace ctl {
namespace {

constexpr double kWidth = 960, kHeight = 560;
constexpr double kLeft = 90, kRight = 30, kTop = 60, kBottom = 70;
constexpr std::array<const char*, 8> kColours{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                              "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `count` ticks over span.
double tick_step(double span, int count) {
  const double raw = span / count;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

int decimals_for(double step) { return step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step))); }

}  // namespace

std::string render_svg(const Plot& plot) {
  double x_min = std::numeric_limits<double>::max(), x_max = std::numeric_limits<double>::lowest();
  double y_min = 0, y_max = 0;
  for (const Curve& c : plot.curves) {
    for (const double x : c.hours) {
      x_min = std::min(x_min, x);
      x_max = std::max(x_max, x);
    }
    for (const double y : c.offset_seconds) {
      y_min = std::min(y_min, y);
      y_max = std::max(y_max, y);
    }
  }
  if (x_min >= x_max) x_min = -1, x_max = 1;
  const double y_pad = std::max(0.05, (y_max - y_min) * 0.08);
  y_min -= y_pad;
  y_max += y_pad;

  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x_min) / (x_max - x_min) * plot_w; };
  auto py = [&](double y) { return kTop + (y_max - y) / (y_max - y_min) * plot_h; };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(kWidth, 0) + "\" height=\"" +
                    number(kHeight, 0) + "\" viewBox=\"0 0 " + number(kWidth, 0) + " " + number(kHeight, 0) +
                    "\" font-family=\"sans-serif\" font-size=\"13\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + number(kWidth / 2, 1) + "\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">" +
         escape(plot.title) + "</text>\n";

  // Grid and ticks.
  const double x_step = tick_step(x_max - x_min, 10);
  for (double x = std::ceil(x_min / x_step) * x_step; x <= x_max + 1e-9; x += x_step) {
    svg += "<line x1=\"" + number(px(x), 1) + "\" y1=\"" + number(kTop, 1) + "\" x2=\"" + number(px(x), 1) +
           "\" y2=\"" + number(kTop + plot_h, 1) + "\" stroke=\"#e5e5e5\"/>\n";
    svg += "<text x=\"" + number(px(x), 1) + "\" y=\"" + number(kTop + plot_h + 18, 1) +
           "\" text-anchor=\"middle\">" + number(x, decimals_for(x_step)) + "</text>\n";
  }
  const double y_step = tick_step(y_max - y_min, 8);
  for (double y = std::ceil(y_min / y_step) * y_step; y <= y_max + 1e-12; y += y_step) {
    svg += "<line x1=\"" + number(kLeft, 1) + "\" y1=\"" + number(py(y), 1) + "\" x2=\"" + number(kLeft + plot_w, 1) +
           "\" y2=\"" + number(py(y), 1) + "\" stroke=\"#e5e5e5\"/>\n";
    svg += "<text x=\"" + number(kLeft - 8, 1) + "\" y=\"" + number(py(y) + 4, 1) + "\" text-anchor=\"end\">" +
           number(std::abs(y) < y_step / 2 ? 0.0 : y, decimals_for(y_step)) + "</text>\n";
  }
  // Axes, the zero line and the leap itself.
  svg += "<rect x=\"" + number(kLeft, 1) + "\" y=\"" + number(kTop, 1) + "\" width=\"" + number(plot_w, 1) +
         "\" height=\"" + number(plot_h, 1) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  svg += "<line x1=\"" + number(kLeft, 1) + "\" y1=\"" + number(py(0), 1) + "\" x2=\"" + number(kLeft + plot_w, 1) +
         "\" y2=\"" + number(py(0), 1) + "\" stroke=\"#999\"/>\n";
  if (x_min <= 0 && x_max >= 0) {
    svg += "<line x1=\"" + number(px(0), 1) + "\" y1=\"" + number(kTop, 1) + "\" x2=\"" + number(px(0), 1) +
           "\" y2=\"" + number(kTop + plot_h, 1) + "\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n";
    svg += "<text x=\"" + number(px(0) + 4, 1) + "\" y=\"" + number(kTop + 14, 1) + "\" fill=\"#666\">leap</text>\n";
  }
  svg += "<text x=\"" + number(kLeft + plot_w / 2, 1) + "\" y=\"" + number(kHeight - 22, 1) +
         "\" text-anchor=\"middle\">" + escape(plot.x_label) + "</text>\n";
  svg += "<text transform=\"translate(22," + number(kTop + plot_h / 2, 1) + ") rotate(-90)\" text-anchor=\"middle\">" +
         escape(plot.y_label) + "</text>\n";

  // Curves, then the legend on top of them.
  for (std::size_t i = 0; i < plot.curves.size(); ++i) {
    const Curve& c = plot.curves[i];
    std::string points;
    for (std::size_t j = 0; j < c.hours.size() && j < c.offset_seconds.size(); ++j) {
      points += number(px(c.hours[j]), 2) + "," + number(py(c.offset_seconds[j]), 2) + " ";
    }
    svg += "<polyline class=\"curve\" data-label=\"" + escape(c.label) + "\" fill=\"none\" stroke=\"" +
           kColours[i % kColours.size()] + "\" stroke-width=\"2\" points=\"" + points + "\"/>\n";
  }
  const double legend_x = kLeft + 14, legend_y = kTop + 14;
  svg += "<rect x=\"" + number(legend_x - 8, 1) + "\" y=\"" + number(legend_y - 12, 1) + "\" width=\"260\" height=\"" +
         number(20.0 * static_cast<double>(plot.curves.size()) + 8, 1) +
         "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n";
  for (std::size_t i = 0; i < plot.curves.size(); ++i) {
    const double y = legend_y + 20.0 * static_cast<double>(i);
    svg += "<line x1=\"" + number(legend_x, 1) + "\" y1=\"" + number(y, 1) + "\" x2=\"" + number(legend_x + 24, 1) +
           "\" y2=\"" + number(y, 1) + "\" stroke=\"" + kColours[i % kColours.size()] + "\" stroke-width=\"3\"/>\n";
    svg += "<text class=\"legend\" x=\"" + number(legend_x + 32, 1) + "\" y=\"" + number(y + 4, 1) + "\">" +
           escape(plot.curves[i].label) + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace ctl
