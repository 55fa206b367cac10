export { lineChartSvg, type ChartOptions, type ChartSeries } from './lossChart.js';
