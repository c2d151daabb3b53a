"""Charts read without sight: a bar chart's numbers also come as a table a screen reader reads row by row."""
import re

from service.svg_charts import bar_chart


def test_a_bar_chart_carries_its_numbers_as_a_table(ctx):
    html = str(bar_chart([(1, 0), (2, 3), (5, 12)], title="How useful was this meeting?"))
    table = re.search(r'<table class="chart-data visually-hidden">(.*?)</table>', html, re.S).group(1)
    assert "<caption>How useful was this meeting?</caption>" in table
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th><td>([^<]*)</td></tr>', table)
    assert rows == [("1", "0"), ("2", "3"), ("5", "12")]
    assert re.findall(r'<th scope="col">([^<]*)</th>', table) == ["Answer", "How many"]
